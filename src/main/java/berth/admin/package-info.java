/** The admin listener (default 127.0.0.1:8081): health now, the REST API later. Runs on a Vert.x event loop. */
package berth.admin;
