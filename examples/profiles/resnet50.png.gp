set terminal pngcairo size 1200,520 font ',10'
set output 'profiles/resnet50.png'
set multiplot layout 1,2 title 'load-performance: resnet50'
set logscale x 2
set grid
set key top left
set xlabel 'batch size'
set ylabel 'throughput (samples/s)'
plot 'profiles/resnet50.png.dat' index 0 using 1:2 with linespoints title 'cpu:0 torchscript x1', 'profiles/resnet50.png.dat' index 1 using 1:2 with linespoints title 'cpu:0 onnx x1', 'profiles/resnet50.png.dat' index 2 using 1:2 with linespoints title 'cpu:1 torchscript x1', 'profiles/resnet50.png.dat' index 3 using 1:2 with linespoints title 'cpu:1 onnx x1'
set ylabel 'p99 latency (ms)'
plot 'profiles/resnet50.png.dat' index 0 using 1:3 with linespoints title 'cpu:0 torchscript x1', 'profiles/resnet50.png.dat' index 1 using 1:3 with linespoints title 'cpu:0 onnx x1', 'profiles/resnet50.png.dat' index 2 using 1:3 with linespoints title 'cpu:1 torchscript x1', 'profiles/resnet50.png.dat' index 3 using 1:3 with linespoints title 'cpu:1 onnx x1'
unset multiplot
