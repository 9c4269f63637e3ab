"""Reads: ``health`` (does each dependency answer), ``services`` (what a service runs now),
``audit`` (the trail, as one actor may read it). Each returns records; the handler layer's views
make the REST and Slack shapes. Import the module you need (a cold ``/health`` loads no more)."""
