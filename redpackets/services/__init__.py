"""Every write of the red packet app; each module owns one part of the money flow."""
