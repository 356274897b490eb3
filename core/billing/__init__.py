"""Billing: a bill per visit, the clinic's catalogue, payments, receipts and free follow-ups.

Money is integer paise everywhere; ``money.format_inr`` is the one place it becomes text.
"""
