"""The commands Django finds for the `warp_server` app."""
