"""Where candles come from and orders go: the Feed and Broker seams and their venues."""
