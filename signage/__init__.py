"""The waiting-room TV page, the patient token page and the SSE streams behind them."""
