set terminal pngcairo size 900,560 enhanced font 'DejaVu Sans,10'
set grid
set key top left
set output '/work/main/bench/results/throughput_vs_connections.png'
set title 'GET throughput vs connections (-P 1, 32-byte values)'
set xlabel 'connections'
set ylabel 'requests/s'
set logscale x 2
set format y '%.0s%c'
plot for [i=2:6] '/work/main/bench/results/sweep.dat' using 1:i with linespoints lw 2 title columnheader(i)
unset logscale x
set format y '%g'
set output '/work/main/bench/results/latency_percentiles_p1.png'
set title 'GET latency by percentile (50 connections, -P 1)'
set xlabel 'percentile'
set ylabel 'latency (ms)'
set logscale x 10
set xtics ('50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, '99.999%%' 100000)
plot for [i=0:6] '/work/main/bench/results/latency_p1.dat' index i using 1:2 with lines lw 2 title columnheader(1)
unset logscale x
set xtics autofreq
set output '/work/main/bench/results/latency_percentiles_p16.png'
set title 'GET latency by percentile (50 connections, -P 16)'
set xlabel 'percentile'
set ylabel 'latency (ms)'
set logscale x 10
set xtics ('50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, '99.999%%' 100000)
plot for [i=0:6] '/work/main/bench/results/latency_p16.dat' index i using 1:2 with lines lw 2 title columnheader(1)
unset logscale x
set xtics autofreq
