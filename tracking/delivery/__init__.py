"""Work done after the request, driven by rows that services record (design section 7.2).

`tasks` holds the Tasks API entry points; `webhooks` takes due messages, signs and sends them
and applies the retry schedule; `http` is the one client that reaches outside; `schedule`
keeps one copy of each recurring or retry task in the queue. Services wake these tasks by
dotted path on commit and never import them.
"""
