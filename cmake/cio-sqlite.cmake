# libcio-sqlite: SQLite through worker threads (include/cio/sqlite.h), built
# when libsqlite3-dev is present. Included by the root CMakeLists.txt.
find_path(SQLITE3_INCLUDE sqlite3.h)
find_library(SQLITE3_LIBRARY sqlite3)
if(SQLITE3_INCLUDE AND SQLITE3_LIBRARY)
  set(CIO_HAVE_SQLITE ON)
  set(CIO_SQLITE_SOURCES src/sqlite/db.c src/sqlite/worker.c src/sqlite/request.c src/sqlite/stmt.c src/sqlite/cursor.c src/sqlite/tx.c
                         src/sqlite/cancel.c src/sqlite/extras.c)
  add_library(cio_sqlite_objects OBJECT ${CIO_SQLITE_SOURCES})
  target_include_directories(cio_sqlite_objects PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>)
  target_include_directories(cio_sqlite_objects PRIVATE ${SQLITE3_INCLUDE})
  target_compile_definitions(cio_sqlite_objects PRIVATE CIO_BUILDING _GNU_SOURCE)
  target_compile_options(cio_sqlite_objects PRIVATE ${CIO_WARNINGS})
  set_target_properties(cio_sqlite_objects PROPERTIES POSITION_INDEPENDENT_CODE ON
                                                      C_VISIBILITY_PRESET hidden)
  add_library(cio_sqlite_static STATIC $<TARGET_OBJECTS:cio_sqlite_objects>)
  add_library(cio_sqlite_shared SHARED $<TARGET_OBJECTS:cio_sqlite_objects>)
  foreach(t cio_sqlite_static cio_sqlite_shared)
    set_target_properties(${t} PROPERTIES OUTPUT_NAME cio-sqlite)
    target_include_directories(${t} PUBLIC
      $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
    target_link_libraries(${t} PUBLIC ${SQLITE3_LIBRARY} Threads::Threads)
  endforeach()
  target_link_libraries(cio_sqlite_static PUBLIC cio_static)
  target_link_libraries(cio_sqlite_shared PUBLIC cio_shared)
  set_target_properties(cio_sqlite_shared PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION 0)
  install(TARGETS cio_sqlite_static cio_sqlite_shared
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  configure_file(cmake/cio-sqlite.pc.in ${CMAKE_CURRENT_BINARY_DIR}/cio-sqlite.pc @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/cio-sqlite.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
  message(STATUS "cio: libcio-sqlite enabled (${SQLITE3_LIBRARY})")
else()
  message(STATUS "cio: sqlite3 not found; libcio-sqlite not built")
endif()
