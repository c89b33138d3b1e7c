"""The customer's pages (design §4), a face on floor 5: views translate HTTP into calls to
tracking.access and the timeline and back; `present` prepares what the tracking page prints
and `lookup` what the lookup form shows, `links` the addresses both link to, `icons` the
sprite, `caching` what one answer represents (its ETag and cache key), `verification` the
postcode proof and the cookie-free forms, `theme` the brand's colours; with the site-wide
`middleware`, `errors` and `health`."""
