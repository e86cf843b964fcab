"""How requests reach Plivo: the limits every request of an account keeps to."""
