set terminal pngcairo size 900,480 noenhanced font 'DejaVu Sans,11'
set output 'forward.png'
set style fill solid 0.9 border rgb '#404040'
set grid ytics lc rgb '#d0d0d0'
set key outside top center horizontal
set title 'Whole forward at 224x224, batch 1, one core: PyTorch eager time / convjit time'
set ylabel 'speed-up (x)'
set boxwidth 0.38
set xtics ("ResNet-18" 0, "ResNet-50" 1, "MobileNetV2" 2, "VGG-16" 3) nomirror
set xrange [-0.6:3.6]
set yrange [0:*]
set arrow from graph 0, first 1 to graph 1, first 1 nohead lc rgb '#000000' dt 2
plot 'raw/forward.dat' using ($1-0.2000):2 with boxes lc rgb '#1f77b4' title 'NCHW', 'raw/forward.dat' using ($1+0.2000):3 with boxes lc rgb '#ff7f0e' title 'channels_last'
