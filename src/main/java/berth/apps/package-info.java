/**
 * The app model: what a tenant deploys ({@link berth.apps.App}), how it is launched, and the immutable {@link
 * berth.apps.Catalog} of all apps. {@link berth.apps.AppsFile} reads and validates apps files. Immutable values;
 * no threads. Imports only {@code config}.
 */
package berth.apps;
