"""The aiohttp endpoint: survey and status pages."""
