"""The feed bench (bench/feed.py) at a small scale: it reads every pair's candles both ways
from the loopback Binance and prints each way's time beside the other."""

from bench.feed import main


def test_it_prints_the_reads_at_once_beside_one_by_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VOLT_HOME", str(tmp_path))  # the bench sets its own: put back after
    monkeypatch.delenv("VOLT_DB_URL", raising=False)
    main(["--pairs", "4", "--latency", "0.05", "--pool", "2", "--rounds", "1"])
    out = capsys.readouterr().out
    assert "4 pairs, loopback Binance answering each request in 50 ms" in out
    assert "8 klines requests" in out  # 4 pairs, both ways
    assert "at once (max_concurrent_requests = 2)" in out and "2 in flight" in out
    assert "one by one" in out and "1 in flight" in out
