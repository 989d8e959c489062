pub struct Tenant;
