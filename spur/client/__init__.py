"""The app-server client: publish contract events to spur's input topics."""

from spur.client.publisher import Publisher, topic_and_key

__all__ = ["Publisher", "topic_and_key"]
