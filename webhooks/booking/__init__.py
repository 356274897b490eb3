"""The public booking page of a clinic network (issue 15), mounted by ``qlink.asgi``."""
