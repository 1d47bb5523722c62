plena_add_bench(bench_sim_timing SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_sim_timing.cpp LIBS plena_sim_timing)
