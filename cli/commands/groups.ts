// add-group, remove-group, list-groups, add-group-member, remove-group-member: each one call into the accounts
// core, which holds the rules (declared groups stay, the admin group keeps an active member).
import { addMember, createGroup, listGroups, removeGroup, removeMember } from "../../src/accounts/groups.ts";
import { command } from "../command.ts";
import { cliActor, withDatabase } from "../database.ts";
import { rulesFor } from "../options.ts";
import { printJson, printTable } from "../output.ts";

const groupnameArg = { groupname: { type: "string", description: "The group's name", required: true, valueHint: "G" } } as const;
const membernameArg = { membername: { type: "string", description: "The member's username", required: true, valueHint: "U" } } as const;

export const addGroupCommand = command({
  name: "add-group",
  args: { ...groupnameArg, description: { type: "string", description: "What the group is for", valueHint: "D" } },
  async run({ args }) {
    await withDatabase(args, async ({ db }) => {
      const group = await createGroup(db, cliActor(), { name: args.groupname, description: args.description });
      console.log(`group '${group.name}' created`);
    });
  },
});

export const removeGroupCommand = command({
  name: "remove-group",
  args: groupnameArg,
  async run({ args }) {
    const rules = await rulesFor(args);
    await withDatabase(args, async ({ db }) => {
      await removeGroup(db, rules, cliActor(), args.groupname);
      console.log(`group '${args.groupname}' removed`);
    });
  },
});

export const listGroupsCommand = command({
  name: "list-groups",
  args: { json: { type: "boolean", description: "Print JSON" } },
  async run({ args }) {
    const rules = await rulesFor(args);
    await withDatabase(args, async ({ db }) => {
      const groups = await listGroups(db, rules);
      if (args.json) return printJson(groups);
      printTable(
        ["GROUP", "MEMBERS", "DECLARED", "DESCRIPTION"],
        groups.map((g) => [g.name, g.members.join(",") || "-", g.declared ? "yes" : "no", g.description]),
      );
    });
  },
});

export const addGroupMemberCommand = command({
  name: "add-group-member",
  args: { ...groupnameArg, ...membernameArg },
  async run({ args }) {
    const rules = await rulesFor(args);
    await withDatabase(args, async ({ db }) => {
      await addMember(db, rules, cliActor(), args.groupname, args.membername);
      console.log(`user '${args.membername}' added to group '${args.groupname}'`);
    });
  },
});

export const removeGroupMemberCommand = command({
  name: "remove-group-member",
  args: { ...groupnameArg, ...membernameArg },
  async run({ args }) {
    const rules = await rulesFor(args);
    await withDatabase(args, async ({ db }) => {
      await removeMember(db, rules, cliActor(), args.groupname, args.membername);
      console.log(`user '${args.membername}' removed from group '${args.groupname}'`);
    });
  },
});
