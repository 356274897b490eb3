"""Read models behind the waiting-room TV and the patient token page.

``board`` renders a branch's queues, ``deltas`` turns committed queue events into screen
updates, ``feed`` reads the event stream in commit-safe order, ``links`` signs token-page links
and ``token_view`` is what a patient's own page shows. Nothing here knows about HTTP.
"""
