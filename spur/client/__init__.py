"""The app-server client: record actions and events, deliver them to Kafka."""

from spur.client.publisher import Publisher, topic_and_key
from spur.client.recording import ActionRecorder
from spur.client.sync import SyncTelemetry
from spur.client.telemetry import Telemetry

__all__ = ["ActionRecorder", "Publisher", "SyncTelemetry", "Telemetry", "topic_and_key"]
