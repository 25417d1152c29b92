"""Running the service: Prometheus metrics (`/metrics`) and the request id carried by every log line."""
