set terminal pngcairo size 1000,600 noenhanced font 'DejaVu Sans,11'
set output 'threads.png'
set style fill solid 0.9 border rgb '#404040'
set grid ytics lc rgb '#d0d0d0'
set key outside top center horizontal
set bmargin 6.5
set xtics ("resnet_3x3_56" 0, "resnet_3x3_28" 1, "batch8_3x3_28" 2) rotate by 30 right nomirror
set xrange [-0.6:2.6]
set yrange [0:2.32]
set ylabel 'median wall time 1 thread / 2 threads'
set title 'Thread scaling, 1 -> 2 threads (load average 1.17)'
plot 'raw/threads.dat' index 0 using 1:2:3:4:5:6 with boxxyerror lc rgb '#1f77b4' title 'xbyak: 2 threads vs 1', \
     'raw/threads.dat' index 1 using 1:2:3:4:5:6 with boxxyerror lc rgb '#d62728' title 'onednn: 2 threads vs 1', \
     'raw/threads_labels.dat' using 1:2:3 with labels offset 0,0.8 notitle, \
     1.8 with lines dt 2 lw 2 lc rgb '#000000' title '1.8x (2-thread scaling target)', \
     2.0 with lines dt 1 lw 1 lc rgb '#808080' title '2x (ideal on 2 cores)'
