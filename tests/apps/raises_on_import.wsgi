raise RuntimeError("raised while importing")
