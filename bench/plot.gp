# bench/plot.gp - time against memory size, ckpt-oci, CRIU and the physical
# reference (process_vm_readv + write; read back into fresh memory).
# gnuplot -e "datafile='mem-shm.dat'; outfile='mem-shm.png'; storage='shm'" plot.gp
# Columns: MiB ck_ckpt ck_criu ck_ref rs_ckpt rs_criu rs_ref (seconds, NaN = none).
set terminal pngcairo size 1100,450 noenhanced font ",10"
set output outfile
set multiplot layout 1,2 title sprintf("mem workload, images on %s (medians)", storage)
set xlabel "memory (MiB)"
set ylabel "seconds"
set key top left
set grid
set logscale x 2
set yrange [0:*]
set datafile missing "NaN"

set title "checkpoint (wall)"
plot datafile using 1:2 with linespoints lw 2 title "ckpt-oci", \
     datafile using 1:3 with linespoints lw 2 title "CRIU", \
     datafile using 1:4 with linespoints dt 2 title "reference: readv+write+fsync"

set title "restore until the workload verified its memory"
plot datafile using 1:5 with linespoints lw 2 title "ckpt-oci", \
     datafile using 1:6 with linespoints lw 2 title "CRIU", \
     datafile using 1:7 with linespoints dt 2 title "reference: read into fresh memory"
unset multiplot
