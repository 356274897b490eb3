"""The partner API (``/api/v1``, JSON with an OpenAPI document), FHIR R4 reads (``/fhir``) and
the patient's self-service records page (``/me``); mounted by ``qlink.asgi``, thin over core."""
