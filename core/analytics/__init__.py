"""Read-only predictions for the BI console: no-show risk and peak-hour forecasts."""
