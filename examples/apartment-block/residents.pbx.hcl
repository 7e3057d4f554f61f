# One user per row of residents.csv: one login per real person, never one
# shared account per flat. Residents without the app are answered by their
# flat's indoor monitor.
dynamic "user" {
  for_each = local.residents
  labels   = [user.value.id]
  content {
    first_name = user.value.first_name
    last_name  = user.value.last_name
    email      = user.value.email
    residence  = residence["flat-${user.value.flat}"]
    extension  = "auto"
    app        = lower(user.value.app) == "yes"
    directory  = lower(user.value.directory) == "yes"
  }
}
