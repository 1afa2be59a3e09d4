"""``make bench``: throughput and latency of the gateway against a bare Flask ceiling and a naive proxy."""
