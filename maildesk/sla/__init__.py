"""Service levels: the model, the business calendar, loading, the timer scheduler and its actions."""
