"""What the DEBUG error page (and any error report) may show of settings, headers and locals."""

import re
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

# The userinfo of a URL (``scheme://user:password@host``): everything between "://" and the
# last "@" before the host. A password in a URL is percent-encoded, so it holds no "/" or "@".
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)[^/@\s]+@")


class UrlCredentialsReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, which hides values by name (``PASSWORD``, ``SECRET_KEY``), plus the
    credentials inside any URL: ``DATABASE_URL``, ``CELERY_BROKER_URL``, ``REDIS_URL`` and
    the cache and channel-layer settings built from them are named like nothing secret.

    Applies to settings, to the request's META (the environment, under a development
    server) and to the traceback's local variables, at any depth of dicts, lists and tuples.
    """

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        if isinstance(value, str):
            value = _URL_USERINFO.sub(rf"\g<scheme>{self.cleansed_substitute}@", value)
        return super().cleanse_setting(key, value)

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        return [
            (name, self.cleanse_setting(name, value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]
