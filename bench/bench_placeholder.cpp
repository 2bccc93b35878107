// replaced by the bench suite
