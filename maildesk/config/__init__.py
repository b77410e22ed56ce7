"""maildesk.toml -> frozen dataclasses: the model, the positioned TOML reader, the service sections."""
