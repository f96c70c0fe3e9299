"""Other sync servers run under the same workloads as waiqin (bench/throughput.py --compare)."""
