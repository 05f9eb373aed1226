# libcio-pg: PostgreSQL on libpq 15 (Debian libpq-dev), built only when libpq
# is found. Targets cio_pg_static / cio_pg_shared, pkg-config file cio-pg.pc.
find_package(PostgreSQL QUIET)
if(NOT PostgreSQL_FOUND)
  find_path(PQ_INCLUDE libpq-fe.h PATH_SUFFIXES postgresql)
  find_library(PQ_LIBRARY pq)
  if(PQ_INCLUDE AND PQ_LIBRARY)
    set(PostgreSQL_FOUND ON)
    set(PostgreSQL_INCLUDE_DIRS ${PQ_INCLUDE})
    set(PostgreSQL_LIBRARIES ${PQ_LIBRARY})
  endif()
endif()
if(PostgreSQL_FOUND AND OPENSSL_FOUND)
  set(CIO_HAVE_PG ON)
  set(CIO_PG_SOURCES src/pg/connect.c src/pg/connect_race.c src/pg/driver.c src/pg/query.c src/pg/result.c src/pg/result_text.c
                     src/pg/stmt_cache.c src/pg/tx.c src/pg/pool.c src/pg/error.c
                     src/pg/pipeline.c src/pg/copy.c src/pg/stream.c
                     src/pg/listen.c)
  add_library(cio_pg_objects OBJECT ${CIO_PG_SOURCES})
  target_include_directories(cio_pg_objects PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>)
  target_include_directories(cio_pg_objects PRIVATE ${PostgreSQL_INCLUDE_DIRS})
  target_compile_definitions(cio_pg_objects PRIVATE CIO_BUILDING _GNU_SOURCE)
  target_compile_options(cio_pg_objects PRIVATE ${CIO_WARNINGS})
  target_link_libraries(cio_pg_objects PRIVATE OpenSSL::SSL)
  set_target_properties(cio_pg_objects PROPERTIES POSITION_INDEPENDENT_CODE ON
                                                  C_VISIBILITY_PRESET hidden)
  add_library(cio_pg_static STATIC $<TARGET_OBJECTS:cio_pg_objects>)
  add_library(cio_pg_shared SHARED $<TARGET_OBJECTS:cio_pg_objects>)
  foreach(t cio_pg_static cio_pg_shared)
    set_target_properties(${t} PROPERTIES OUTPUT_NAME cio-pg)
    target_include_directories(${t} PUBLIC
      $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
    target_link_libraries(${t} PUBLIC ${PostgreSQL_LIBRARIES} OpenSSL::SSL)
  endforeach()
  target_link_libraries(cio_pg_static PUBLIC cio_static)
  target_link_libraries(cio_pg_shared PUBLIC cio_shared)
  set_target_properties(cio_pg_shared PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION 0)
  install(TARGETS cio_pg_static cio_pg_shared
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  configure_file(cmake/cio-pg.pc.in ${CMAKE_CURRENT_BINARY_DIR}/cio-pg.pc @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/cio-pg.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
  message(STATUS "cio: libcio-pg enabled (libpq ${PostgreSQL_VERSION_STRING})")
else()
  message(STATUS "cio: libpq or OpenSSL missing; libcio-pg not built")
endif()
