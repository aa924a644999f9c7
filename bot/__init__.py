"""The Telegram side: application factory, handlers, rendering, the offline console."""
