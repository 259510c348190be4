"""The Pusher step: a checked, blessed model copied atomically into the TF Serving directory."""
