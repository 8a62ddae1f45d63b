-- The tables Feast 0.67's SqlRegistry creates on PostgreSQL (the ones this
-- package reads), as SQLAlchemy's create_all renders infra/registry/sql.py.
CREATE TABLE projects (project_id VARCHAR(255) PRIMARY KEY, project_name VARCHAR(255) NOT NULL, last_updated_timestamp BIGINT NOT NULL, project_proto BYTEA NOT NULL);
CREATE TABLE entities (entity_name VARCHAR(255), project_id VARCHAR(255), last_updated_timestamp BIGINT NOT NULL, entity_proto BYTEA NOT NULL, PRIMARY KEY (entity_name, project_id));
CREATE TABLE data_sources (data_source_name VARCHAR(255), project_id VARCHAR(255), last_updated_timestamp BIGINT NOT NULL, data_source_proto BYTEA NOT NULL, PRIMARY KEY (data_source_name, project_id));
CREATE TABLE feature_views (feature_view_name VARCHAR(255), project_id VARCHAR(255), last_updated_timestamp BIGINT NOT NULL, materialized_intervals BYTEA, feature_view_proto BYTEA NOT NULL, user_metadata BYTEA, PRIMARY KEY (feature_view_name, project_id));
CREATE TABLE stream_feature_views (feature_view_name VARCHAR(255), project_id VARCHAR(255), last_updated_timestamp BIGINT NOT NULL, feature_view_proto BYTEA NOT NULL, user_metadata BYTEA, PRIMARY KEY (feature_view_name, project_id));
CREATE TABLE on_demand_feature_views (feature_view_name VARCHAR(255), project_id VARCHAR(255), last_updated_timestamp BIGINT NOT NULL, feature_view_proto BYTEA NOT NULL, user_metadata BYTEA, PRIMARY KEY (feature_view_name, project_id));
CREATE TABLE label_views (feature_view_name VARCHAR(255), project_id VARCHAR(255), last_updated_timestamp BIGINT NOT NULL, feature_view_proto BYTEA NOT NULL, user_metadata BYTEA, PRIMARY KEY (feature_view_name, project_id));
CREATE TABLE feature_services (feature_service_name VARCHAR(255), project_id VARCHAR(255), last_updated_timestamp BIGINT NOT NULL, feature_service_proto BYTEA NOT NULL, PRIMARY KEY (feature_service_name, project_id));
CREATE TABLE saved_datasets (saved_dataset_name VARCHAR(255), project_id VARCHAR(255), last_updated_timestamp BIGINT NOT NULL, saved_dataset_proto BYTEA NOT NULL, PRIMARY KEY (saved_dataset_name, project_id));
CREATE TABLE validation_references (validation_reference_name VARCHAR(255), project_id VARCHAR(255), last_updated_timestamp BIGINT NOT NULL, validation_reference_proto BYTEA NOT NULL, PRIMARY KEY (validation_reference_name, project_id));
CREATE TABLE managed_infra (infra_name VARCHAR(255), project_id VARCHAR(255), last_updated_timestamp BIGINT NOT NULL, infra_proto BYTEA NOT NULL, PRIMARY KEY (infra_name, project_id));
CREATE TABLE permissions (permission_name VARCHAR(255), project_id VARCHAR(255), last_updated_timestamp BIGINT NOT NULL, permission_proto BYTEA NOT NULL, PRIMARY KEY (permission_name, project_id));
CREATE TABLE feast_metadata (project_id VARCHAR(255), metadata_key VARCHAR(50), metadata_value TEXT NOT NULL, last_updated_timestamp BIGINT NOT NULL, PRIMARY KEY (project_id, metadata_key));
