"""The notification channels: email, the SMS and push backends, and the inbound SMS webhook.

The HTTP backends talk to a fake provider on 127.0.0.1 started by the test, never to a real
host.
"""
