set terminal pngcairo size 1408,480 noenhanced font 'DejaVu Sans,11'
set output 'layers_mobilenet_v2.png'
set style fill solid 0.9 border rgb '#404040'
set grid ytics lc rgb '#d0d0d0'
set key outside top center horizontal
set title 'MobileNetV2, per convolution: eager nn.Conv2d time / converted module time'
set ylabel 'speed-up (x)'
set boxwidth 0.38
set xtics ("features.0.0" 0, "features.1.conv.0.0" 1, "features.1.conv.1" 2, "features.2.conv.0.0" 3, "features.2.conv.1.0" 4, "features.2.conv.2" 5, "features.3.conv.0.0" 6, "features.3.conv.1.0" 7, "features.3.conv.2" 8, "features.4.conv.0.0" 9, "features.4.conv.1.0" 10, "features.4.conv.2" 11, "features.5.conv.0.0" 12, "features.5.conv.1.0" 13, "features.5.conv.2" 14, "features.6.conv.0.0" 15, "features.6.conv.1.0" 16, "features.6.conv.2" 17, "features.7.conv.0.0" 18, "features.7.conv.1.0" 19, "features.7.conv.2" 20, "features.8.conv.0.0" 21, "features.8.conv.1.0" 22, "features.8.conv.2" 23, "features.9.conv.0.0" 24, "features.9.conv.1.0" 25, "features.9.conv.2" 26, "features.10.conv.0.0" 27, "features.10.conv.1.0" 28, "features.10.conv.2" 29, "features.11.conv.0.0" 30, "features.11.conv.1.0" 31, "features.11.conv.2" 32, "features.12.conv.0.0" 33, "features.12.conv.1.0" 34, "features.12.conv.2" 35, "features.13.conv.0.0" 36, "features.13.conv.1.0" 37, "features.13.conv.2" 38, "features.14.conv.0.0" 39, "features.14.conv.1.0" 40, "features.14.conv.2" 41, "features.15.conv.0.0" 42, "features.15.conv.1.0" 43, "features.15.conv.2" 44, "features.16.conv.0.0" 45, "features.16.conv.1.0" 46, "features.16.conv.2" 47, "features.17.conv.0.0" 48, "features.17.conv.1.0" 49, "features.17.conv.2" 50, "features.18.0" 51) rotate by 45 right nomirror
set xrange [-0.6:51.6]
set yrange [0:*]
set arrow from graph 0, first 1 to graph 1, first 1 nohead lc rgb '#000000' dt 2
plot 'raw/layers_mobilenet_v2.dat' using ($1-0.2000):2 with boxes lc rgb '#1f77b4' title 'NCHW', 'raw/layers_mobilenet_v2.dat' using ($1+0.2000):3 with boxes lc rgb '#ff7f0e' title 'channels_last'
