plena_add_bench(bench_one_layer_run SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_one_layer_run.cpp LIBS plena_model fmt::fmt)
