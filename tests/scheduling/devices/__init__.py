"""The patient's phones for push (``me/devices/``; scheduling.services.device_register) and the
push delivery of reminders to every device, forgetting dead tokens (scheduling.reminders)."""
