<?php
// This file is part of Moodle - https://moodle.org/
//
// Moodle is free software: you can redistribute it and/or modify
// it under the terms of the GNU General Public License as published by
// the Free Software Foundation, either version 3 of the License, or
// (at your option) any later version.
//
// Moodle is distributed in the hope that it will be useful,
// but WITHOUT ANY WARRANTY; without even the implied warranty of
// MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
// GNU General Public License for more details.
//
// You should have received a copy of the GNU General Public License
// along with Moodle.  If not, see <https://www.gnu.org/licenses/>.

/**
 * Version of local_ldap2moodle: a name for the component that ldap2moodle's cohorts and role assignments carry.
 *
 * The plugin has no code, tables, settings or capabilities. ldap2moodle keeps its own rows in config_plugins
 * under this plugin's name (the apply marker, its lock); uninstalling the plugin from Moodle deletes them.
 *
 * @package    local_ldap2moodle
 * @copyright  2026 ldap2moodle contributors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

$plugin->component = 'local_ldap2moodle';
$plugin->version = 2026120700;        // YYYYMMDDXX: raise it when a file of the plugin changes.
$plugin->requires = 2024100700;       // Moodle 4.5.0.
$plugin->maturity = MATURITY_STABLE;
$plugin->release = '1.0';
