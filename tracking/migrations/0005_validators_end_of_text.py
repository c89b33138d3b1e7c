"""The field rules end at `\\Z`: Python's `$` also accepted a value with a trailing newline."""

import django.core.validators
import re
import tracking.models
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tracking', '0004_default_orderings'),
    ]

    operations = [
        migrations.AlterField(
            model_name='brand',
            name='accent_colour',
            field=models.CharField(default='#0b7a53', help_text='Progress bar and links. Replaced by a safe colour if it fails WCAG contrast.', max_length=7, validators=[django.core.validators.RegexValidator(re.compile('^#[0-9a-fA-F]{6}\\Z'), 'must be a colour like #0b7a53')]),
        ),
        migrations.AlterField(
            model_name='brand',
            name='primary_colour',
            field=models.CharField(default='#1f4e8c', help_text='Header and buttons. Replaced by a safe colour if it fails WCAG contrast.', max_length=7, validators=[django.core.validators.RegexValidator(re.compile('^#[0-9a-fA-F]{6}\\Z'), 'must be a colour like #1f4e8c')]),
        ),
        migrations.AlterField(
            model_name='carrier',
            name='code',
            field=models.CharField(max_length=50, unique=True, validators=[django.core.validators.RegexValidator(re.compile('^[A-Z0-9]+(_[A-Z0-9]+)*\\Z'), 'must be upper-case like CARRIER_X')]),
        ),
        migrations.AlterField(
            model_name='consignment',
            name='destination_country',
            field=models.CharField(blank=True, max_length=2, validators=[django.core.validators.RegexValidator('^[A-Z]{2}\\Z', 'must be a two-letter ISO country code')]),
        ),
        migrations.AlterField(
            model_name='consignment',
            name='reference',
            field=models.CharField(default=tracking.models.new_consignment_reference, help_text='EC-XXX-XXX-XXX, drawn at random; may be replaced by one of your own.', max_length=14, unique=True, validators=[django.core.validators.RegexValidator(re.compile('^EC-[0-9A-Z]{3}-[0-9A-Z]{3}-[0-9A-Z]{3}\\Z'), 'must look like EC-XXX-XXX-XXX (digits and capital letters)')]),
        ),
        migrations.AlterField(
            model_name='package',
            name='reference',
            field=models.CharField(default=tracking.models.new_package_reference, help_text='EP-XXX-XXX-XXX, drawn at random; may be replaced by one of your own.', max_length=14, unique=True, validators=[django.core.validators.RegexValidator(re.compile('^EP-[0-9A-Z]{3}-[0-9A-Z]{3}-[0-9A-Z]{3}\\Z'), 'must look like EP-XXX-XXX-XXX (digits and capital letters)')]),
        ),
    ]
