set terminal pngcairo size 700,480 noenhanced font 'DejaVu Sans,11'
set output 'layers_vgg16.png'
set style fill solid 0.9 border rgb '#404040'
set grid ytics lc rgb '#d0d0d0'
set key outside top center horizontal
set title 'VGG-16, per convolution: eager nn.Conv2d time / converted module time'
set ylabel 'speed-up (x)'
set boxwidth 0.38
set xtics ("features.0" 0, "features.2" 1, "features.5" 2, "features.7" 3, "features.10" 4, "features.12" 5, "features.14" 6, "features.17" 7, "features.19" 8, "features.21" 9, "features.24" 10, "features.26" 11, "features.28" 12) rotate by 45 right nomirror
set xrange [-0.6:12.6]
set yrange [0:*]
set arrow from graph 0, first 1 to graph 1, first 1 nohead lc rgb '#000000' dt 2
plot 'raw/layers_vgg16.dat' using ($1-0.2000):2 with boxes lc rgb '#1f77b4' title 'NCHW', 'raw/layers_vgg16.dat' using ($1+0.2000):3 with boxes lc rgb '#ff7f0e' title 'channels_last'
