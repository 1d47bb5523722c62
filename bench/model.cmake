plena_add_bench(bench_model SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_model.cpp LIBS plena_model)
