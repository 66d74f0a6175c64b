"""pyserial URL handlers of the simulator (``protocol_sim`` serves ``sim://``)."""
