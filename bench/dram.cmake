plena_add_bench(bench_dram SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_dram.cpp LIBS plena_dram)
