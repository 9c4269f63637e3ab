"""opsbot: the Chalice app. Creates the app, registers middleware and Blueprints; nothing else."""

from chalice import Chalice

from chalicelib.handlers import (
    alarms,
    api,
    changes,
    dashboard,
    events,
    guards,
    reads,
    schedules,
    slack,
    worker,
)
from chalicelib.handlers.http import auth_middleware, request_id_middleware

app = Chalice(app_name="opsbot")
app.register_middleware(request_id_middleware, "http")
app.register_middleware(auth_middleware, "http")
app.register_blueprint(api.bp)
app.register_blueprint(reads.bp)
app.register_blueprint(guards.bp)
app.register_blueprint(changes.bp)
app.register_blueprint(dashboard.bp)
app.register_blueprint(worker.bp)
app.register_blueprint(events.bp)
app.register_blueprint(alarms.bp)
app.register_blueprint(slack.bp)
app.register_blueprint(schedules.bp)
