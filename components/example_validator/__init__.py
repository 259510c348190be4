"""The ExampleValidator step: TFX's schema validation plus drift against the previous span's statistics."""
