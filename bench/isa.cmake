plena_add_bench(bench_isa SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_isa.cpp LIBS plena_isa)
