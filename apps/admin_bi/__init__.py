"""The owner's console: KPIs, drill-downs, exports, configuration, audit and system health."""
